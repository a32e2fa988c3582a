// node-oidc-provider (npm `oidc-provider`, installed in tests/interop by `npm ci`) as the peer
// `make bench` measures idplus against, on the two paths both serve the same way:
//
// - client_credentials with `resource=urn:idplus-bench:api`: a JWT access token signed RS256
//   (resource indicators with accessTokenFormat "jwt"), the kind idplus issues at /connect;
// - introspection of an opaque client_credentials token (one issued without a resource), held
//   by the library's default in-memory adapter.
//
// Usage: node provider.mjs PORT   (environment: BENCH_CLIENT_ID, BENCH_CLIENT_SECRET)
//
// Listens on 127.0.0.1:PORT and writes one line, {"ready": true, "issuer": ...}, to stdout once
// it does. Nothing is logged per request, as idplus logs nothing per request under the bench.
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { createServer } from "node:http";

// The package lives in tests/interop/node_modules (its `main` is lib/index.js); a bare
// specifier would resolve from bench/ and find nothing.
import Provider from "../../tests/interop/node_modules/oidc-provider/lib/index.js";

const RESOURCE = "urn:idplus-bench:api";
const port = Number(process.argv[2]);
const clientId = process.env.BENCH_CLIENT_ID;
const clientSecret = process.env.BENCH_CLIENT_SECRET;
if (!port || !clientId || !clientSecret) {
  console.error("usage: BENCH_CLIENT_ID=... BENCH_CLIENT_SECRET=... node provider.mjs PORT");
  process.exit(2);
}
// The library's notices (console.info) go to stderr, leaving stdout to the ready line.
console.info = (...args) => console.error(...args);

const issuer = `http://127.0.0.1:${port}`;
const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const signingKey = {
  ...privateKey.export({ format: "jwk" }),
  kid: "bench-rs256",
  use: "sig",
  alg: "RS256",
};

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      grant_types: ["client_credentials"],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: "client_secret_basic",
      scope: "api:read",
    },
  ],
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString("base64url")] },
  scopes: ["api:read"],
  ttl: { ClientCredentials: 3600 },
  features: {
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    devInteractions: { enabled: false },
    resourceIndicators: {
      enabled: true,
      // Without a `resource` parameter the token stays opaque (the introspection path).
      defaultResource: async (_ctx, _client, oneOf) => oneOf,
      getResourceServerInfo: async (_ctx, resourceIndicator) => {
        if (resourceIndicator !== RESOURCE) throw new Provider.errors.InvalidTarget();
        return {
          scope: "api:read",
          audience: RESOURCE,
          accessTokenTTL: 3600,
          accessTokenFormat: "jwt",
          jwt: { sign: { alg: "RS256" } },
        };
      },
    },
  },
});

const server = createServer(provider.callback());
await new Promise((resolve, reject) => {
  server.once("error", reject);
  server.listen(port, "127.0.0.1", resolve);
});
process.stdout.write(`${JSON.stringify({ ready: true, issuer })}\n`);
