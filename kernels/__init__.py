"""What runs inside a tenant workspace besides the SDK: kernel spec, audit extension, image."""
