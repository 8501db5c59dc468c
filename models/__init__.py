"""Model families: architecture and preprocessing, shared by training and serving."""
