"""Hydra search-path plugin: makes our configs visible wherever Hydra composes SAM2 configs.

Hydra discovers every module under the ``hydra_plugins`` namespace package, so the stock
``training/train.py``, ``sam2.build_sam.build_sam2*`` and ``sam2-train`` all find, by name:

- ``pkg://sam2_configs`` (this project's configs), after the stock ``pkg://sam2`` configs;
- each directory listed in ``SAM2_CONFIG_PATH`` (separated like ``PATH``): your own configs.
"""

import os

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin

CONFIG_PATH_VARIABLE = "SAM2_CONFIG_PATH"


class Sam2TrainingExtSearchPath(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        search_path.append(provider="sam2-training-ext", path="pkg://sam2_configs")
        for directory in os.environ.get(CONFIG_PATH_VARIABLE, "").split(os.pathsep):
            if directory:
                search_path.append(
                    provider="sam2-config-path", path=f"file://{os.path.abspath(directory)}"
                )
