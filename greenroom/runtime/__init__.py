"""The agent runtime: processes and the runtime (actors), and their pure core.

`AgentProcess` and `AgentRuntime` are async facades over actors (`ProcessActor` under a
`ProcessSupervisor` under the runtime's supervisor); configuration, lifecycle, context,
conversation, inbox and topic rules are plain classes with no threads and no I/O.
Its names are imported on first use (`greenroom.lazy`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from greenroom.lazy import exports

if TYPE_CHECKING:
    from greenroom.runtime.config import (
        AutonomyBudget,
        BudgetConfig,
        ContextConfig,
        DistributedConfig,
        EscalationTarget,
        ExecutionMode,
        HealthConfig,
        InboxConfig,
        JournalConfig,
        MissionConfig,
        OpenModeConfig,
        ProcessConfig,
        RuntimeConfig,
        SecretScopeConfig,
        ToolCostAnnotation,
        ToolSpec,
        TriggerConfig,
        tool_spec,
    )
    from greenroom.runtime.context import (
        AgentContext,
        InMemoryMemoryProvider,
        MemoryProvider,
        MemoryResult,
        StateEntry,
    )
    from greenroom.runtime.conversation import ConversationBuffer
    from greenroom.runtime.errors import (
        ContextWriteDenied,
        FeatureDisabledError,
        InboxError,
        InboxFullError,
        InboxRateLimitError,
        NotFoundError,
        ProcessNotAcceptingError,
        ProcessStateError,
        RuntimeBaseError,
    )
    from greenroom.runtime.inbox import (
        InboxMessage,
        InboxResponse,
        MessageInbox,
        MessagePriority,
        MessageType,
    )
    from greenroom.runtime.lifecycle import (
        VALID_TRANSITIONS,
        ProcessLifecycle,
        ProcessState,
        ProcessTransition,
        TimeSource,
    )
    from greenroom.runtime.process import AgentProcess
    from greenroom.runtime.process_actor import ProcessActor, ProcessFailedError
    from greenroom.runtime.runtime import AgentRuntime
    from greenroom.triggers.topics import TopicPattern, topic_matches, validate_topic

__all__ = [
    "VALID_TRANSITIONS",
    "AgentContext",
    "AgentProcess",
    "AgentRuntime",
    "AutonomyBudget",
    "BudgetConfig",
    "ContextConfig",
    "ContextWriteDenied",
    "ConversationBuffer",
    "DistributedConfig",
    "EscalationTarget",
    "ExecutionMode",
    "FeatureDisabledError",
    "HealthConfig",
    "InMemoryMemoryProvider",
    "InboxConfig",
    "InboxError",
    "InboxFullError",
    "InboxMessage",
    "InboxRateLimitError",
    "InboxResponse",
    "JournalConfig",
    "MemoryProvider",
    "MemoryResult",
    "MessageInbox",
    "MessagePriority",
    "MessageType",
    "MissionConfig",
    "NotFoundError",
    "OpenModeConfig",
    "ProcessActor",
    "ProcessConfig",
    "ProcessFailedError",
    "ProcessLifecycle",
    "ProcessNotAcceptingError",
    "ProcessState",
    "ProcessStateError",
    "ProcessTransition",
    "RuntimeBaseError",
    "RuntimeConfig",
    "SecretScopeConfig",
    "StateEntry",
    "TimeSource",
    "ToolCostAnnotation",
    "ToolSpec",
    "TopicPattern",
    "TriggerConfig",
    "tool_spec",
    "topic_matches",
    "validate_topic",
]

if not TYPE_CHECKING:
    __getattr__, __dir__ = exports(__name__, __file__, globals())
