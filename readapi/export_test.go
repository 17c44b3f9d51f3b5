package readapi

// MappingOf returns the index of the error-table row that answers err, or
// -1; NumMappings is the number of rows. Tests use them to walk the table.
func MappingOf(err error) int {
	for i, m := range mappings {
		if m.Match(err) {
			return i
		}
	}
	return -1
}

// NumMappings is the number of rows of the error table.
func NumMappings() int { return len(mappings) }
