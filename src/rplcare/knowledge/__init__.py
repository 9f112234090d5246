"""Clinical knowledge as versioned, cited data (YAML files in this folder) and its schema."""
