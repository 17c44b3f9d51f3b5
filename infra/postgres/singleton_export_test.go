package postgres

// SetBeforeHeartbeat makes the holder call f before each heartbeat; an f
// that blocks is a holder that hangs.
func (s *Singleton) SetBeforeHeartbeat(f func()) { s.beforeHeartbeat = f }
