// A back end authenticating with private_key_jwt (RFC 7523) through openid-client (npm): it
// gets a client_credentials token, introspects it and revokes it, each request carrying a
// fresh assertion signed with the client's private key, and prints one JSON line.
// Usage: node openid_client_private_key_jwt.mjs ISSUER CLIENT_ID PRIVATE_JWK_JSON
// PRIVATE_JWK_JSON: the client's RSA private key as a JWK with a kid (signs PS256).
import * as client from "openid-client";

const [issuer, clientId, privateJwk] = process.argv.slice(2);
const jwk = JSON.parse(privateJwk);
const key = await crypto.subtle.importKey(
  "jwk",
  { ...jwk, alg: "PS256" },
  { name: "RSA-PSS", hash: "SHA-256" },
  false,
  ["sign"],
);
const config = await client.discovery(
  new URL(issuer),
  clientId,
  undefined,
  client.PrivateKeyJwt({ key, kid: jwk.kid }),
  { execute: [client.allowInsecureRequests] },
);
const tokens = await client.clientCredentialsGrant(config);
const introspected = await client.tokenIntrospection(config, tokens.access_token);
await client.tokenRevocation(config, tokens.access_token);
let replay = null;
try {
  // A second grant with its own assertion must work too (each jti is new).
  await client.clientCredentialsGrant(config);
  replay = "ok";
} catch (error) {
  replay = String(error.error ?? error);
}
console.log(
  JSON.stringify({
    token_type: tokens.token_type,
    active: introspected.active,
    client_id: introspected.client_id,
    second_grant: replay,
  }),
);
