// Runs GraphQL documents through Apollo Client exactly as an integrator's app would, against a running server,
// and prints what came back and what went over the wire (JSON on stdout). Used by tests/clients/.
//
// stdin: {"url", "token", "mode", "operations": [{"name", "document", "variables"}]}
//   mode: "http"            HttpLink, full query by POST
//         "http-get"        HttpLink with useGETForQueries
//         "apq"             the persisted-queries link (SHA-256 of the printed document), POST
//         "apq-get"         the same with useGETForHashedQueries
//         "manifest"        the persisted-queries link with ids from the server's Apollo manifest, through
//                           @apollo/persisted-query-lists' generatePersistedQueryIdsFromManifest, POST
import { createHash } from "node:crypto";

const sha256 = (text) => createHash("sha256").update(text).digest("hex");

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

function describe(error) {
  // Apollo Client 4: CombinedGraphQLErrors / ServerError / ...; Apollo Client 3: ApolloError
  const graphQLErrors = error.errors || error.graphQLErrors || [];
  const network = error.networkError || null;
  const fromNetwork = (network && network.result && network.result.errors) || [];
  const all = [...graphQLErrors, ...fromNetwork];
  return {
    name: error.name || error.constructor.name,
    message: String(error.message).slice(0, 300),
    statusCode: error.statusCode || (network && network.statusCode) || null,
    codes: all.map((e) => (e.extensions || {}).code || null),
  };
}

export async function drive({
  ApolloClient,
  InMemoryCache,
  HttpLink,
  ApolloLink,
  gql,
  createPersistedQueryLink,
  generatePersistedQueryIdsFromManifest,
  version,
}) {
  const spec = await readStdin();
  const wire = [];
  const loggedFetch = async (url, init = {}) => {
    const parsed = new URL(url);
    let body = null;
    if (typeof init.body === "string") body = JSON.parse(init.body);
    const query = body ? body.query : parsed.searchParams.get("query");
    const extensions = body ? body.extensions : parsed.searchParams.get("extensions");
    const response = await fetch(url, init);
    wire.push({
      method: init.method || "GET",
      sentQuery: Boolean(query),
      sentHash: Boolean(extensions && JSON.stringify(extensions).includes("sha256Hash")),
      status: response.status,
      contentType: response.headers.get("content-type"),
      accept: (init.headers && (init.headers.accept || init.headers.Accept)) || null,
    });
    return response;
  };
  const headers = spec.token ? { Authorization: `Bearer ${spec.token}` } : {};
  const http = new HttpLink({ uri: spec.url, fetch: loggedFetch, headers, useGETForQueries: spec.mode === "http-get" });
  let link = http;
  if (spec.mode === "apq" || spec.mode === "apq-get") {
    link = ApolloLink.from([createPersistedQueryLink({ sha256, useGETForHashedQueries: spec.mode === "apq-get" }), http]);
  } else if (spec.mode === "manifest") {
    // Apollo's persisted query lists, on the manifest the server publishes
    const manifestUrl = spec.url.replace(/\/graphql$/, "/graphql/persisted-queries.json");
    const loadManifest = async () => (await fetch(manifestUrl)).json();
    const options = generatePersistedQueryIdsFromManifest({ loadManifest });
    link = ApolloLink.from([createPersistedQueryLink(options), http]);
  }
  const client = new ApolloClient({ link, cache: new InMemoryCache() });
  const results = [];
  for (const operation of spec.operations) {
    const started = wire.length;
    try {
      const result = await client.query({ query: gql(operation.document), variables: operation.variables || {}, fetchPolicy: "network-only" });
      results.push({ name: operation.name, data: result.data, errors: result.errors || null, wire: wire.slice(started) });
    } catch (error) {
      results.push({ name: operation.name, error: describe(error), wire: wire.slice(started) });
    }
  }
  process.stdout.write(JSON.stringify({ apollo: version, mode: spec.mode, results }));
}
