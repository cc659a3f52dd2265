"""YAML configuration (field mapping, routing, lists), validated into pydantic models at load.

Files are read from `REVOPS_CONFIG_DIR` when set, else from this package's defaults. A bad file
raises `ConfigError` naming the file, the line, the key and what is wrong, so a broken mapping
fails definition loading (and `dg check defs`) instead of writing garbage.
"""

from revops_pipelines.config.loader import ConfigError, config_path, load_model

__all__ = ["ConfigError", "config_path", "load_model"]
