"""A simulated shop served as faithful Shopify and Klaviyo API emulators on 127.0.0.1."""
