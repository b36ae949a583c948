"""The console's pages, one module per concern: `providers` (the list with the routing chain, a
provider's page), `checks` (Test and Run all checks), `secrets` (the secret panel), `site` (what
every page shares)."""
