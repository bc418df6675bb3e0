"""The agent runtime: process configuration, lifecycle, context, conversation, inbox and topics.

The modules here are the pure core (no threads, no I/O); the actor layer wraps them.
"""

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
    InboxError,
    InboxFullError,
    InboxRateLimitError,
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
from greenroom.runtime.topics import TopicPattern, topic_matches, validate_topic

__all__ = [
    "VALID_TRANSITIONS",
    "AgentContext",
    "AutonomyBudget",
    "BudgetConfig",
    "ContextConfig",
    "ConversationBuffer",
    "DistributedConfig",
    "EscalationTarget",
    "ExecutionMode",
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
    "OpenModeConfig",
    "ProcessConfig",
    "ProcessLifecycle",
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
