"""Channel adapters behind one contract (base), built from config by the registry."""
