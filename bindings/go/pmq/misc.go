package pmq

// #include "shim.h"
import "C"

import "math"

// PriorityMax is the highest message priority on Linux (the reference's
// QUEUE_PRIORITY_MAX); PriorityLimit() reads the system's value.
const PriorityMax = C.PMQ_PRIORITY_MAX

// NameMax is the longest queue name after the leading slash, in bytes, on
// BackendKernel (NAME_MAX, 255).
const NameMax = C.PMQ_NAME_MAX

// ShmNameMax is the longest queue name after the leading slash, in bytes, on
// BackendShm: 251, so that the queue's file pmq.<name> fits the file
// system's 255-byte names. A longer name is refused with an
// InvalidArgument error naming this limit; names of at most 251 bytes work
// on both backends.
const ShmNameMax = C.PMQ_SHM_NAME_MAX

// RlimitInfinity is SystemLimits.RlimitSoft/RlimitHard when unlimited.
const RlimitInfinity uint64 = math.MaxUint64

// HeaderVersionNumber is PMQ_VERSION_NUMBER of the pmq.h this package was
// compiled with (MAJOR*10000 + MINOR*100 + PATCH).
const HeaderVersionNumber = C.PMQ_VERSION_NUMBER

// Version returns the linked library's version, e.g. "0.1.0".
func Version() string { return C.GoString(C.pmq_version()) }

// VersionNumber returns the linked library's version as
// MAJOR*10000 + MINOR*100 + PATCH; compare with HeaderVersionNumber.
func VersionNumber() int { return int(C.pmq_version_number()) }

// Supported reports whether the system has POSIX message queues (the
// reference's MESSAGE_QUEUES_SUPPORTED).
func Supported() bool { return bool(C.pmq_message_queues_supported()) }

// PriorityLimit returns the highest priority this system accepts.
func PriorityLimit() uint { return uint(C.pmq_priority_max()) }

// DefaultMaxMessages returns the capacity of new queues when none is given:
// the system's msg_max, read now.
func DefaultMaxMessages() int { return int(C.pmq_queue_messages_max_default()) }

// DefaultMessageSize returns the message size of new queues when none is
// given: the system's msgsize_max, read now.
func DefaultMessageSize() int { return int(C.pmq_queue_message_size_max_default()) }

// QueueCost returns how many bytes a queue of this shape is charged against
// the user's RLIMIT_MSGQUEUE (0 for non-positive arguments).
func QueueCost(maxMessages, maxMessageSize int) uint64 {
	return uint64(C.pmq_queue_cost(C.int64_t(maxMessages), C.int64_t(maxMessageSize)))
}

// SystemLimits are the system's message-queue limits at one moment.
type SystemLimits struct {
	MsgMax         int64  // fs.mqueue.msg_max: most messages per queue
	MsgSizeMax     int64  // fs.mqueue.msgsize_max: largest message
	QueuesMax      int64  // fs.mqueue.queues_max: queues system-wide
	MsgDefault     int64  // fs.mqueue.msg_default
	MsgSizeDefault int64  // fs.mqueue.msgsize_default
	RlimitSoft     uint64 // RLIMIT_MSGQUEUE soft limit in bytes, or RlimitInfinity
	RlimitHard     uint64 // RLIMIT_MSGQUEUE hard limit in bytes, or RlimitInfinity
	PriorityMax    uint   // highest priority
}

// Limits reads every message-queue limit now.
func Limits() (SystemLimits, error) {
	var l C.pmq_limits
	if err := call("limits", "", func() C.pmq_status { return C.pmq_limits_get(&l) }); err != nil {
		return SystemLimits{}, err
	}
	return SystemLimits{
		MsgMax:         int64(l.msg_max),
		MsgSizeMax:     int64(l.msgsize_max),
		QueuesMax:      int64(l.queues_max),
		MsgDefault:     int64(l.msg_default),
		MsgSizeDefault: int64(l.msgsize_default),
		RlimitSoft:     uint64(l.rlimit_soft),
		RlimitHard:     uint64(l.rlimit_hard),
		PriorityMax:    uint(l.priority_max),
	}, nil
}
