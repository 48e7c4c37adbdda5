"""Bundler: find or install esbuild, bundle a tool project, index its tools, pack the archive."""
