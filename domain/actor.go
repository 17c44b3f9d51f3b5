package domain

import "github.com/google/uuid"

// Role is what a user may do.
type Role string

// Roles.
const (
	RoleBuyer     Role = "buyer"
	RoleOrganizer Role = "organizer"
	RoleAdmin     Role = "admin"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleBuyer || r == RoleOrganizer || r == RoleAdmin }

// Actor is the authenticated user behind a command or a query.
type Actor struct {
	UserID uuid.UUID
	Role   Role
}
