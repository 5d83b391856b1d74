package insight

// Redis key names, for the test that replays a batch.
const (
	PendingHash = pendingHash
	BatchPrefix = batchPrefix
	BatchesSet  = batchesSet
)
