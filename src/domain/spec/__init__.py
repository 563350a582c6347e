"""Job specs: parsing a found spec document into a JobSpec, and the catalog of them."""
