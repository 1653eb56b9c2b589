"""The small languages, once: field mappings, ``{{payload.x}}`` templates, compose
patterns, filters, dates and field paths -- parsed, checked and run here only.

Configuration validation (:mod:`hookplane.config.validate`) calls these parsers and
checkers and positions their problems; the runtime compiles the same specifications with
them, so the two cannot disagree. Pure: the standard library and :mod:`hookplane.errors`
only -- no I/O, and nothing from :mod:`hookplane.config` (specifications are read through
the protocols of :mod:`hookplane.mapping._specs`).
"""

from __future__ import annotations

from hookplane.mapping._values import json_equal
from hookplane.mapping.contexts import (
    COMPUTED_ROOTS,
    PAYLOAD_ROOTS,
    RECORD_EVENT_ROOTS,
    SYSTEM_EVENT_ROOTS,
    record_event_context,
    system_event_context,
)
from hookplane.mapping.engine import (
    CompiledMapping,
    check_date_format,
    compile_mapping,
    value_map_ambiguities,
)
from hookplane.mapping.filter import (
    FILTER_OPERATORS,
    FilterProblem,
    compile_filter,
    filter_fields,
    filter_problems,
    validate_filter,
)
from hookplane.mapping.paths import (
    MISSING,
    MissingType,
    delete_path,
    get_path,
    has_path,
    set_path,
    split_path,
)
from hookplane.mapping.schema import (
    FieldError,
    RecordValidator,
    apply_defaults,
    compile_schema,
)
from hookplane.mapping.template import (
    MAX_OUTPUT_BYTES,
    Placeholder,
    Template,
    TemplateSyntaxError,
    is_field_path,
    parse_compose,
    parse_template,
    render_string,
    render_value,
)
from hookplane.mapping.validate import (
    MappingProblem,
    required_field_problems,
    schema_field,
    validate_mapping,
)

__all__ = [
    "COMPUTED_ROOTS",
    "FILTER_OPERATORS",
    "MAX_OUTPUT_BYTES",
    "MISSING",
    "PAYLOAD_ROOTS",
    "RECORD_EVENT_ROOTS",
    "SYSTEM_EVENT_ROOTS",
    "CompiledMapping",
    "FieldError",
    "FilterProblem",
    "MappingProblem",
    "MissingType",
    "Placeholder",
    "RecordValidator",
    "Template",
    "TemplateSyntaxError",
    "apply_defaults",
    "check_date_format",
    "compile_filter",
    "compile_mapping",
    "compile_schema",
    "delete_path",
    "filter_fields",
    "filter_problems",
    "get_path",
    "has_path",
    "is_field_path",
    "json_equal",
    "parse_compose",
    "parse_template",
    "record_event_context",
    "render_string",
    "render_value",
    "required_field_problems",
    "schema_field",
    "set_path",
    "split_path",
    "system_event_context",
    "validate_filter",
    "validate_mapping",
    "value_map_ambiguities",
]
