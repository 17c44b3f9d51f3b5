package domain_test

import (
	"testing"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/domain"
)

func TestCanManage(t *testing.T) {
	s := domain.NewShow()
	s.OrganizerID = orgID
	other := uuid.MustParse("00000000-0000-0000-0000-00000000b002")
	for _, tc := range []struct {
		name  string
		actor domain.Actor
		want  bool
	}{
		{"its organizer", domain.Actor{UserID: orgID, Role: domain.RoleOrganizer}, true},
		{"another organizer", domain.Actor{UserID: other, Role: domain.RoleOrganizer}, false},
		{"an admin", domain.Actor{UserID: other, Role: domain.RoleAdmin}, true},
		{"a buyer", domain.Actor{UserID: buyerID, Role: domain.RoleBuyer}, false},
		{"nobody", domain.Actor{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := domain.CanManage(tc.actor, s); got != tc.want {
				t.Errorf("CanManage = %v, want %v", got, tc.want)
			}
			if got := domain.CanManageShowsOf(tc.actor, orgID); got != tc.want {
				t.Errorf("CanManageShowsOf = %v, want %v", got, tc.want)
			}
		})
	}
}
