// A relying party built on openid-client (npm): given the callback URL the browser reached,
// it redeems the code with PKCE, validates the ID token and calls userinfo.
// Usage: node openid_client_rp.mjs ISSUER CLIENT_ID CALLBACK_URL CODE_VERIFIER NONCE STATE
import * as client from "openid-client";

const [issuer, clientId, callbackUrl, codeVerifier, nonce, state] = process.argv.slice(2);
const config = await client.discovery(new URL(issuer), clientId, undefined, client.None(), {
  execute: [client.allowInsecureRequests],
});
const tokens = await client.authorizationCodeGrant(config, new URL(callbackUrl), {
  pkceCodeVerifier: codeVerifier,
  expectedNonce: nonce,
  expectedState: state,
  idTokenExpected: true,
});
const claims = tokens.claims();
const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
console.log(JSON.stringify({ claims, userinfo, refreshed: Boolean(refreshed.access_token) }));
