// Verifying Hookplane's X-Hookplane-Signature in Node.js with the built-in crypto module.
"use strict";
const crypto = require("node:crypto");

// True when `signatureHeader` carries a valid HMAC-SHA256 of `body` (a Buffer of the raw
// request body, before any JSON parsing). The key is the secret's text exactly as shown,
// "whsec_" prefix included. During a rotation the header holds two signatures separated by
// a space: either one is enough.
function verifyHookplaneSignature(body, signatureHeader, secret) {
  if (!signatureHeader) return false;
  const expected = Buffer.from(
    "sha256=" + crypto.createHmac("sha256", secret).update(body).digest("hex"),
  );
  return signatureHeader.split(" ").some((candidate) => {
    const given = Buffer.from(candidate);
    return given.length === expected.length && crypto.timingSafeEqual(given, expected);
  });
}

module.exports = { verifyHookplaneSignature };
