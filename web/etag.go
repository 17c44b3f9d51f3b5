package web

import "strconv"

// ETag is the entity tag of a resource at version (a show's stream
// version): the version in quotes, a strong tag (issue 16: vocab).
func ETag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }
