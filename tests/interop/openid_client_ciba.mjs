// A CIBA client (poll mode) built on openid-client (npm): it starts a backchannel
// authentication request, prints the answer as one JSON line (the user's phone now has the
// SMS), then polls the token endpoint until the user has decided and prints the outcome.
// Usage: node openid_client_ciba.mjs ISSUER CLIENT_ID CLIENT_SECRET PARAMETERS_JSON
// PARAMETERS_JSON: the request's form fields, e.g. {"scope": "openid vipps", "login_hint": "…"}.
import * as client from "openid-client";

const [issuer, clientId, clientSecret, parameters] = process.argv.slice(2);
const config = await client.discovery(
  new URL(issuer),
  clientId,
  undefined,
  client.ClientSecretBasic(clientSecret),
  { execute: [client.allowInsecureRequests] },
);
const started = await client.initiateBackchannelAuthentication(config, JSON.parse(parameters));
console.log(JSON.stringify(started));

try {
  const tokens = await client.pollBackchannelAuthenticationGrant(config, started);
  console.log(
    JSON.stringify({
      claims: tokens.claims(),
      scope: tokens.scope,
      token_type: tokens.token_type,
      access_token: Boolean(tokens.access_token),
      refresh_token: Boolean(tokens.refresh_token),
    }),
  );
} catch (error) {
  // An OAuth error answer (access_denied, expired_token …) is an outcome, not a crash.
  if (!(error instanceof client.ResponseBodyError)) throw error;
  console.log(JSON.stringify({ error: error.error, error_description: error.error_description }));
}
