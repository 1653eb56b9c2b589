// Verifying Hookplane's Standard Webhooks headers with the `standardwebhooks` npm package
// (npm install standardwebhooks).
"use strict";
const { Webhook, WebhookVerificationError } = require("standardwebhooks");

// Returns the parsed JSON body of a valid delivery, or null. `body` is the raw request body
// (a Buffer or string), `headers` holds webhook-id, webhook-timestamp and webhook-signature
// (Node's lower-cased req.headers works as it is), `secret` is the trigger's whsec_… secret.
// A timestamp more than five minutes away from now is refused, which stops replays.
function verifyStandardWebhook(body, headers, secret) {
  try {
    return new Webhook(secret).verify(body, headers);
  } catch (error) {
    if (error instanceof WebhookVerificationError) return null;
    throw error;
  }
}

module.exports = { verifyStandardWebhook };
