// Apollo Client 3 (this folder's node_modules) through the shared driver.
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from "@apollo/client/core/index.js";
import { createPersistedQueryLink } from "@apollo/client/link/persisted-queries/index.js";
import { version } from "@apollo/client/version.js";

import { generatePersistedQueryIdsFromManifest } from "@apollo/persisted-query-lists";

import { drive } from "../driver.mjs";

await drive({
  ApolloClient,
  InMemoryCache,
  HttpLink,
  ApolloLink,
  gql,
  createPersistedQueryLink,
  generatePersistedQueryIdsFromManifest,
  version,
});
