// A webhook receiver for Hookplane deliveries with Node's http module:
//   HOOKPLANE_SIGNING_SECRET=whsec_... node server.js 9000
"use strict";
const http = require("node:http");
const { verifyHookplaneSignature } = require("./verify-hmac");
const { verifyStandardWebhook } = require("./verify-standardwebhooks");

const secret = process.env.HOOKPLANE_SIGNING_SECRET;
if (!secret) {
  console.error("set HOOKPLANE_SIGNING_SECRET to the trigger's signing secret");
  process.exit(1);
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    const body = Buffer.concat(chunks); // the raw bytes: verify before parsing
    const event = verifyStandardWebhook(body, req.headers, secret);
    if (!verifyHookplaneSignature(body, req.headers["x-hookplane-signature"], secret) || !event) {
      res.writeHead(401).end();
      return;
    }
    console.log("verified", req.headers["x-hookplane-event"], req.headers["webhook-id"]);
    res.writeHead(204).end();
  });
});

server.listen(Number(process.argv[2] || 9000), "127.0.0.1");
