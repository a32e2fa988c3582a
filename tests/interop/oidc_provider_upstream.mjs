// node-oidc-provider (npm `oidc-provider`) as a real third-party upstream OpenID provider for
// idplus's federation tests.
//
// Usage: node oidc_provider_upstream.mjs CONFIG.json
//
// CONFIG.json (every key optional but `client`):
//   {
//     "host": "127.0.0.3",             // loopback address to listen on
//     "port": 0,                       // 0 = any free port (the ready line tells which)
//     "client": {                      // the one static confidential client (idplus)
//       "client_id": "...", "client_secret": "...",
//       "redirect_uris": ["<idplus>/federation/ID/callback"],
//       "post_logout_redirect_uris": ["<idplus>/federation/ID/logged-out"]
//     },
//     "accounts": {                    // login name -> claims over the defaults below;
//       "kari": {"email_verified": false, "phone_number": null}   // null removes a claim
//     },
//     "conformIdTokenClaims": false    // true: scope claims only at userinfo, not in the ID token
//   }
//
// Any login name works at the development login form (any password). An account's default
// claims: email <login>@example.no (verified), a +47 phone number derived from the login
// (verified), given_name <Login>, family_name Nordmann.
//
// stdout carries one JSON object a line: first {"ready": true, "issuer": ...} once listening,
// then {"request": "METHOD /path?query"} for every request the server receives,
// {"response": "METHOD /path?query", "status": N} once it is answered, and
// {"event": "refresh_token.saved" | "refresh_token.destroyed", "token": ..., "accountId": ...}
// as refresh tokens are issued and revoked (an opaque token's value is its id), and
// {"event": "end_session.success"} when a logout ended a session. Warnings of the
// development-only features go to stderr.
import { createHash, generateKeyPairSync, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";

import Provider from "oidc-provider";

const configPath = process.argv[2];
if (!configPath) {
  console.error("usage: node oidc_provider_upstream.mjs CONFIG.json");
  process.exit(2);
}
// stdout is for this script's JSON lines: the library's notices (console.info) go to stderr.
console.info = (...args) => console.error(...args);
const config = JSON.parse(readFileSync(configPath, "utf8"));
const host = config.host ?? "127.0.0.3";
const accounts = config.accounts ?? {};

function emit(event) {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

function defaultClaims(login) {
  const digits = BigInt(`0x${createHash("sha256").update(login).digest("hex").slice(0, 12)}`);
  return {
    email: `${login}@example.no`,
    email_verified: true,
    phone_number: `+479${String(digits % 10000000n).padStart(7, "0")}`,
    phone_number_verified: true,
    given_name: login.charAt(0).toUpperCase() + login.slice(1),
    family_name: "Nordmann",
  };
}

function claimsOf(login) {
  const claims = { ...defaultClaims(login), ...(accounts[login] ?? {}) };
  for (const [name, value] of Object.entries(claims)) {
    if (value === null) delete claims[name];
  }
  return claims;
}

let handler = (_req, res) => {
  res.statusCode = 503;
  res.end();
};
const server = createServer((req, res) => {
  const request = `${req.method} ${req.url}`;
  emit({ request });
  res.on("finish", () => emit({ response: request, status: res.statusCode }));
  handler(req, res);
});
await new Promise((resolve, reject) => {
  server.once("error", reject);
  server.listen(config.port ?? 0, host, resolve);
});
const issuer = `http://${host}:${server.address().port}`;

const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const signingKey = {
  ...privateKey.export({ format: "jwk" }),
  kid: "node-upstream-rs256",
  use: "sig",
  alg: "RS256",
};

const provider = new Provider(issuer, {
  clients: [
    {
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_basic",
      ...config.client,
    },
  ],
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString("base64url")] },
  pkce: { required: () => true },
  ttl: {
    AccessToken: 600,
    AuthorizationCode: 60,
    Grant: 3600,
    IdToken: 600,
    Interaction: 600,
    RefreshToken: 3600,
    Session: 3600,
  },
  conformIdTokenClaims: config.conformIdTokenClaims ?? false,
  claims: {
    openid: ["sub"],
    email: ["email", "email_verified"],
    phone: ["phone_number", "phone_number_verified"],
    profile: ["given_name", "family_name"],
  },
  features: {
    devInteractions: { enabled: true },
    revocation: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  async findAccount(_ctx, accountId) {
    return {
      accountId,
      async claims() {
        return { sub: accountId, ...claimsOf(accountId) };
      },
    };
  },
});
for (const what of ["saved", "destroyed"]) {
  provider.on(`refresh_token.${what}`, (token) =>
    emit({ event: `refresh_token.${what}`, token: token.jti, accountId: token.accountId }),
  );
}
provider.on("end_session.success", () => emit({ event: "end_session.success" }));
handler = provider.callback();

emit({ ready: true, issuer });
