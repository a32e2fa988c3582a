// A FAPI 2.0 relying party built on openid-client (npm): private_key_jwt client
// authentication, DPoP-bound tokens, pushed authorization requests with PKCE S256, and ID
// tokens whose signature openid-client checks itself against the issuer's JWKS.
// Usage: node fapi2.mjs push   PARAMS_JSON   → {"url": …, "exchanges": […]}
//        node fapi2.mjs redeem PARAMS_JSON   → tokens, userinfo, refresh (see `redeem`)
// PARAMS_JSON: {"issuer", "client_id", "client_jwk" (private JWK with kid), "client_alg"
// (PS256|ES256), "dpop_jwk" (private EC P-256 JWK), "id_token_alg", "redirect_uri",
// "callback" (redeem: the URL the browser reached), "verifier", "state", "nonce"}.
// Both steps get the same DPoP key: idplus binds the code to the key of the pushed request.
// "exchanges" lists every HTTP exchange after discovery, so the caller sees the DPoP nonce
// retries (RFC 9449 §8) that openid-client makes on its own.
import * as client from "openid-client";

const [mode, json] = process.argv.slice(2);
const params = JSON.parse(json);
const exchanges = [];

// WebCrypto algorithms of the JWS algorithms a FAPI 2.0 client signs with.
const WEBCRYPTO = {
  PS256: { name: "RSA-PSS", hash: "SHA-256" },
  ES256: { name: "ECDSA", namedCurve: "P-256" },
};

function importJwk(jwk, alg, usage, extractable = false) {
  return crypto.subtle.importKey("jwk", { ...jwk, alg }, WEBCRYPTO[alg], extractable, [usage]);
}

async function dpopKeyPair(jwk) {
  const { d: _private, ...publicJwk } = jwk;
  return {
    privateKey: await importJwk(jwk, "ES256", "sign"),
    // DPoP proofs carry the public key in their header: it must be exportable.
    publicKey: await importJwk(publicJwk, "ES256", "verify", true),
  };
}

// Records each exchange; the DPoP nonce errors are recognised the way openid-client does
// (400 body error at the authorization server, 401 WWW-Authenticate at a resource).
async function recordingFetch(url, options) {
  const response = await fetch(url, options);
  const sent = new Headers(options?.headers);
  let error = null;
  if (response.status === 400) {
    error = (await response.clone().json().catch(() => ({}))).error ?? null;
  } else if (response.status === 401) {
    const challenge = response.headers.get("www-authenticate") ?? "";
    error = /error="?([a-z_]+)/.exec(challenge)?.[1] ?? null;
  }
  exchanges.push({
    method: options?.method ?? "GET",
    path: new URL(url).pathname,
    status: response.status,
    dpop: sent.has("dpop"),
    error,
    dpop_nonce: response.headers.has("dpop-nonce"),
  });
  return response;
}

function decodeJwtPart(jwt, index) {
  return JSON.parse(Buffer.from(jwt.split(".")[index], "base64url").toString());
}

const clientKey = await importJwk(params.client_jwk, params.client_alg, "sign");
const config = await client.discovery(
  new URL(params.issuer),
  params.client_id,
  // openid-client then refuses an ID token signed with any other algorithm.
  { id_token_signed_response_alg: params.id_token_alg },
  client.PrivateKeyJwt({ key: clientKey, kid: params.client_jwk.kid }),
  { execute: [client.allowInsecureRequests] },
);
config[client.customFetch] = recordingFetch;
// Checks the ID token's signature against the issuer's jwks_uri (otherwise TLS is trusted).
client.enableNonRepudiationChecks(config);
const keyPair = await dpopKeyPair(params.dpop_jwk);
const DPoP = client.getDPoPHandle(config, keyPair);

if (mode === "push") {
  const url = await client.buildAuthorizationUrlWithPAR(
    config,
    {
      redirect_uri: params.redirect_uri,
      scope: "openid profile offline_access",
      code_challenge: await client.calculatePKCECodeChallenge(params.verifier),
      code_challenge_method: "S256",
      state: params.state,
      nonce: params.nonce,
    },
    { DPoP },
  );
  console.log(JSON.stringify({ url: url.href, exchanges }));
} else {
  const tokens = await client.authorizationCodeGrant(
    config,
    new URL(params.callback),
    {
      pkceCodeVerifier: params.verifier,
      expectedNonce: params.nonce,
      expectedState: params.state,
      idTokenExpected: true,
    },
    undefined,
    { DPoP },
  );
  const claims = tokens.claims();
  // Userinfo through a second handle of the same key, as another process of the client would
  // call it: it holds no nonce yet, so a nonce-requiring server challenges it (401).
  const resourceDPoP = client.getDPoPHandle(config, keyPair);
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub, {
    DPoP: resourceDPoP,
  });
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token, undefined, {
    DPoP,
  });
  console.log(
    JSON.stringify({
      token_type: tokens.token_type,
      access_token_claims: decodeJwtPart(tokens.access_token, 1),
      id_token_header: decodeJwtPart(tokens.id_token, 0),
      claims,
      dpop_jkt: await DPoP.calculateThumbprint(),
      userinfo,
      refreshed: {
        token_type: refreshed.token_type,
        access_token_claims: decodeJwtPart(refreshed.access_token, 1),
        new_access_token: refreshed.access_token !== tokens.access_token,
      },
      exchanges,
    }),
  );
}
