"""The field-mapping contract compiled to functions, ``{{payload.x}}`` templates, filters.

Pure: the standard library, pydantic models from :mod:`hookplane.config.models` and
:mod:`hookplane.errors` only -- no I/O.
"""

from __future__ import annotations

from hookplane.mapping._values import json_equal
from hookplane.mapping.engine import (
    CompiledMapping,
    check_date_format,
    compile_mapping,
    validate_mapping,
)
from hookplane.mapping.filter import (
    FILTER_OPERATORS,
    compile_filter,
    filter_fields,
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
    parse_template,
    render_string,
    render_value,
)

__all__ = [
    "FILTER_OPERATORS",
    "MAX_OUTPUT_BYTES",
    "MISSING",
    "CompiledMapping",
    "FieldError",
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
    "get_path",
    "has_path",
    "json_equal",
    "parse_template",
    "render_string",
    "render_value",
    "set_path",
    "split_path",
    "validate_filter",
    "validate_mapping",
]
