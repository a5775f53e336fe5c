// Apollo Client 4 (this folder's node_modules) through the shared driver.
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql, version } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";

import { generatePersistedQueryIdsFromManifest } from "@apollo/persisted-query-lists";

import { drive } from "./driver.mjs";

const createPersistedQueryLink = (options) => new PersistedQueryLink(options);
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
