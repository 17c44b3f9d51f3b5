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

// CanManage reports whether actor may manage show s: edit, publish or
// cancel it, check its tickets in, see its sales. Its organizer and admins
// may.
func CanManage(actor Actor, s *Show) bool { return CanManageShowsOf(actor, s.OrganizerID) }

// CanManageShowsOf is CanManage for a show known only by its organizer, such
// as a read model's row.
func CanManageShowsOf(actor Actor, organizer uuid.UUID) bool {
	return actor.UserID == organizer || actor.Role == RoleAdmin
}
