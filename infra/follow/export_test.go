package follow

// Started reports whether the tail of s has its start: from then on a
// follower at or after it is handed the kept events.
func Started(s *Shared) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.started
}
