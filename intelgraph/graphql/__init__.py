"""GraphQL for every app: errors (platform layer), execution, limits and deadline; the view sits at the top."""
