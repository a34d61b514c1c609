"""Services: one module per operation; they return data and never print."""
