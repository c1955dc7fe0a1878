"""Composing training configs by name, with Hydra's errors turned into one-line messages."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import yaml
from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from hydra.core.object_type import ObjectType
from hydra.errors import (
    ConfigCompositionException,
    MissingConfigException,
    OverrideParseException,
)
from omegaconf import DictConfig, OmegaConf
from training.utils.train_utils import register_omegaconf_resolvers

from training_ext.errors import UserError

CONFIG_PATH_VARIABLE = "SAM2_CONFIG_PATH"
# Configs name the models this project ships as ${oc.env:SAM2_MODELS}/<file>.
MODELS_VARIABLE = "SAM2_MODELS"
SHIPPED_MODELS = Path(__file__).resolve().parents[1] / "models"


def initialize_hydra(extra_config_dir: str | None = None) -> None:
    """(Re)start Hydra on the stock ``sam2`` configs, plus ours via the search-path plugin.

    Also points ``$SAM2_MODELS`` at the shipped ``models/`` folder unless it is set (spawned
    training ranks inherit it)."""
    os.environ.setdefault(MODELS_VARIABLE, str(SHIPPED_MODELS))
    if extra_config_dir:
        known = os.environ.get(CONFIG_PATH_VARIABLE, "")
        os.environ[CONFIG_PATH_VARIABLE] = os.pathsep.join(filter(None, [known, extra_config_dir]))
    GlobalHydra.instance().clear()
    initialize_config_module("sam2", version_base="1.2")
    if not OmegaConf.has_resolver("times"):
        register_omegaconf_resolvers()  # ${times:..} and ${divide:..} of the stock configs


def config_name_from_argument(config: str) -> tuple[str, str | None]:
    """``demo`` -> (``demo``, None); ``/my/cfgs/run.yaml`` -> (``run``, ``/my/cfgs``)."""
    path = Path(config)
    if path.suffix in (".yaml", ".yml"):
        if path.is_file():
            return path.stem, str(path.resolve().parent)
        if os.sep in config:  # a path, not a name
            raise UserError(
                f"config file {config} does not exist: give the path of a .yaml file, or a "
                "config name (see `sam2-train --list-configs`)"
            )
    return config.removesuffix(".yaml"), None


def available_configs() -> list[str]:
    """Every config name in the search path (our groups, stock ``configs/...``), minus Hydra's."""
    loader = GlobalHydra.instance().config_loader()

    def walk(group: str) -> list[str]:
        names = [
            f"{group}/{option}" if group else option
            for option in loader.get_group_options(group, results_filter=ObjectType.CONFIG)
        ]
        for child in loader.list_groups(group):
            names += walk(f"{group}/{child}" if group else child)
        return names

    return sorted(
        name for name in walk("") if not name.startswith(("hydra/", "_dummy_empty_config_"))
    )


def compose_config(config: str, overrides: list[str]) -> DictConfig:
    """Compose ``config`` with Hydra ``key=value`` overrides, or raise a one-line UserError."""
    try:
        return compose(config_name=config, overrides=overrides)
    except MissingConfigException as error:
        raise _missing_config_error(config, error) from None
    except OverrideParseException as error:
        raise UserError(str(error).splitlines()[0]) from None
    except ConfigCompositionException as error:
        raise _override_error(config, overrides, error) from None
    except yaml.YAMLError as error:
        raise _yaml_error(config, error) from None


def _yaml_error(config: str, error: yaml.YAMLError) -> UserError:
    mark = getattr(error, "problem_mark", None)
    where = f"{mark.name}, line {mark.line + 1}" if mark else f"config {config!r}"
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    return UserError(f"{where} is not valid YAML ({problem}): fix the file")


def _missing_config_error(config: str, error: MissingConfigException) -> UserError:
    first_line = str(error).splitlines()[0]
    if first_line.startswith("Cannot find primary config"):
        names = available_configs()
        close = difflib.get_close_matches(config, names, n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}?" if close else "no similar name"
        return UserError(
            f"config {config!r} not found ({hint}); see `sam2-train --list-configs`, "
            f"or add your config folder to {CONFIG_PATH_VARIABLE}"
        )
    group_options = [
        line.strip() for line in str(error).split("Available options")[-1].splitlines()[1:]
    ]
    options = [o for o in group_options if o and not o.startswith(("Config search", "provider="))]
    what = first_line.removeprefix(f"In {config!r}: ").rstrip(".")
    if not options:  # a name in the defaults list that is no config at all
        return UserError(
            f"config {config!r}: {what} (named in its defaults list): fix the name; see "
            "`sam2-train --list-configs`"
        )
    return UserError(f"{what}; available: {', '.join(options)}")


def _override_error(
    config: str, overrides: list[str], error: ConfigCompositionException
) -> UserError:
    message = str(error)
    prefix = "Could not override '"
    if not message.startswith(prefix):
        return UserError(message.splitlines()[0])
    key = message[len(prefix) :].split("'")[0]
    override = next((o for o in overrides if o.split("=")[0].lstrip("~+") == key), key)
    known_keys = _leaf_keys(compose(config_name=config))
    close = difflib.get_close_matches(key, known_keys, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]}? " if close else ""
    return UserError(
        f"override {override!r}: config {config!r} has no key {key!r}; "
        f"{hint}(use +{override.lstrip('+')} to add a new key)"
    )


def _leaf_keys(node: object, prefix: str = "") -> list[str]:
    if isinstance(node, DictConfig):
        keys = []
        for key in node:
            child = node._get_node(key)
            keys += _leaf_keys(child, f"{prefix}.{key}" if prefix else str(key))
        return keys
    return [prefix]
