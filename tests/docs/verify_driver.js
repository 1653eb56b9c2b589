// Test driver: runs the documented Node.js verification snippets on one delivery.
// stdin: {"snippet": "hmac" | "standard", "body_b64": "...", "headers": {...}, "secret": "..."}
// stdout: {"valid": true|false}
"use strict";
const path = require("node:path");
const receivers = path.join(__dirname, "..", "..", "docs", "receivers", "node");
const { verifyHookplaneSignature } = require(path.join(receivers, "verify-hmac.js"));
const { verifyStandardWebhook } = require(path.join(receivers, "verify-standardwebhooks.js"));

const chunks = [];
process.stdin.on("data", (chunk) => chunks.push(chunk));
process.stdin.on("end", () => {
  const input = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  const body = Buffer.from(input.body_b64, "base64");
  const headers = {};
  for (const [name, value] of Object.entries(input.headers)) headers[name.toLowerCase()] = value;
  let valid;
  if (input.snippet === "hmac") {
    valid = verifyHookplaneSignature(body, headers["x-hookplane-signature"], input.secret);
  } else {
    valid = verifyStandardWebhook(body, headers, input.secret) !== null;
  }
  process.stdout.write(JSON.stringify({ valid }));
});
