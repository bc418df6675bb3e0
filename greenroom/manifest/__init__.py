"""`.agent` manifests: one YAML file describes one agent process (docs/manifests.md).

`load_manifest(path)` reads and validates a manifest (`AgentManifestSchema`),
`manifest_to_process_config` turns it into a `ProcessConfig`, `save_manifest` writes one back,
and `validate_manifest` returns what is valid but will not work as written.
`AgentRuntime.load_manifest` and `AgentRuntime.load_directory` register processes from them.
A manifest is data: it never imports or runs code.
Its names are imported on first use (`greenroom.lazy`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from greenroom.lazy import exports

if TYPE_CHECKING:
    from greenroom.manifest.errors import ManifestError, ManifestIssue, ManifestValidationError
    from greenroom.manifest.loader import (
        MANIFEST_SUFFIX,
        load_manifest,
        load_process_configs,
        manifest_files,
        manifest_from_dict,
        manifest_to_process_config,
        manifest_to_yaml,
        manifest_warnings,
        save_manifest,
        validate_manifest,
    )
    from greenroom.manifest.schema import (
        MANIFEST_VERSION,
        NAME_PATTERN,
        AgentManifestSchema,
        MemorySpec,
        ProcessSettings,
        ServerSpec,
    )
    from greenroom.manifest.shorthand import SHORTHAND_FIELDS, expand_trigger
    from greenroom.manifest.templates import TEMPLATE_KINDS, manifest_template

__all__ = [
    "MANIFEST_SUFFIX",
    "MANIFEST_VERSION",
    "NAME_PATTERN",
    "SHORTHAND_FIELDS",
    "TEMPLATE_KINDS",
    "AgentManifestSchema",
    "ManifestError",
    "ManifestIssue",
    "ManifestValidationError",
    "MemorySpec",
    "ProcessSettings",
    "ServerSpec",
    "expand_trigger",
    "load_manifest",
    "load_process_configs",
    "manifest_files",
    "manifest_from_dict",
    "manifest_template",
    "manifest_to_process_config",
    "manifest_to_yaml",
    "manifest_warnings",
    "save_manifest",
    "validate_manifest",
]

if not TYPE_CHECKING:
    __getattr__, __dir__ = exports(__name__, __file__, globals())
