//go:build race

package web

// raceEnabled: the race detector adds allocations of its own.
const raceEnabled = true
