/* The GraphQL client: persisted operations only, sent with the session cookie and the CSRF token; errors
 * become GraphQLError with the API's code (extensions.code). */

import { config, state } from "./state.js";
import { toast } from "./toasts.js";

export const NEIGHBOURHOOD_LIMIT = 100; // the API's default page; hubs come in further pages ("Load more")
export const GRAPH_NODES_MAX = 500; // graphNodes(ids) takes at most this many ids

// Persisted operations only (graphql/safelist.json, documents in graphql/operations/): the page works
// where GRAPHQL_REQUIRE_PERSISTED refuses ad-hoc documents, and the server knows every query it runs.

export const OP = {
  search: "explorer-search:v1",
  graphNodes: "graph-nodes:v1",
  neighborhood: "neighborhood:v1",
  preview: "neighborhood-preview:v1",
  graphKinds: "graph-kinds:v1",
  entity: "entity-detail:v1",
};

export class GraphQLError extends Error {
  constructor(message, code, extensions, data) {
    super(message);
    this.code = code;
    this.extensions = extensions || {};
    this.data = data;
  }
}

export function csrfToken() {
  const input = document.querySelector("input[name=csrfmiddlewaretoken]");
  if (input && input.value) return input.value; // the cookie is HttpOnly: the page carries the token
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

export async function gql(operation, variables = {}, { signal } = {}) {
  let response;
  try {
    response = await fetch(config.urls.graphql, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify({ id: operation, variables }),
      signal,
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new GraphQLError("The server could not be reached; check your connection.", "NETWORK_ERROR");
  }
  let body = null;
  try {
    body = await response.json();
  } catch (error) {
    throw new GraphQLError(`The server answered ${response.status} without JSON.`, `HTTP_${response.status}`);
  }
  if (body.errors && body.errors.length) {
    const first = body.errors[0];
    const extensions = first.extensions || {};
    throw new GraphQLError(first.message, extensions.code || "ERROR", extensions, body.data);
  }
  return body.data;
}

export function isMissingField(error, field) {
  return (
    error instanceof GraphQLError &&
    error.code === "GRAPHQL_VALIDATION_FAILED" &&
    error.message.includes(`'${field}'`)
  );
}

export function graphApiMissing(error) {
  if (["graphNodes", "neighborhood", "neighborhoodPreview", "graphKinds"].some((f) => isMissingField(error, f))) {
    state.missingGraphApi = true;
    toast("The graph API (graphNodes, neighborhood) is not available on this server yet.", {
      code: "UNAVAILABLE",
    });
    return true;
  }
  return false;
}

/* graphNodes for any number of ids, in pages the API accepts. */
export async function fetchGraphNodes(ids) {
  let fetched = [];
  for (let i = 0; i < ids.length; i += GRAPH_NODES_MAX) {
    const data = await gql(OP.graphNodes, { ids: ids.slice(i, i + GRAPH_NODES_MAX) });
    fetched = fetched.concat(data.graphNodes || []);
  }
  return fetched;
}
