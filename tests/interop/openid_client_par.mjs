// A confidential relying party built on openid-client (npm) that pushes its authorization
// request (RFC 9126) and, once the browser reached the callback, redeems the code.
// Usage: node openid_client_par.mjs push   ISSUER CLIENT_ID SECRET REDIRECT_URI VERIFIER STATE NONCE
//        node openid_client_par.mjs redeem ISSUER CLIENT_ID SECRET CALLBACK_URL VERIFIER STATE NONCE
// push prints {"url": …} for the browser; redeem prints the ID token's claims and userinfo.
import * as client from "openid-client";

const [mode, issuer, clientId, secret, uri, codeVerifier, state, nonce] = process.argv.slice(2);
const config = await client.discovery(
  new URL(issuer), clientId, undefined, client.ClientSecretBasic(secret),
  { execute: [client.allowInsecureRequests] },
);

if (mode === "push") {
  const url = await client.buildAuthorizationUrlWithPAR(config, {
    redirect_uri: uri,
    scope: "openid profile",
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: "S256",
    state,
    nonce,
  });
  console.log(JSON.stringify({ url: url.href }));
} else {
  const tokens = await client.authorizationCodeGrant(config, new URL(uri), {
    pkceCodeVerifier: codeVerifier,
    expectedNonce: nonce,
    expectedState: state,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  console.log(JSON.stringify({ claims, userinfo }));
}
