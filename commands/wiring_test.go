package commands_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketing/ticketing/commands"
	"github.com/ticketing/ticketing/domain"
	"github.com/ticketing/ticketing/infra/memory"
)

func panics(f func()) (did bool) {
	defer func() { did = recover() != nil }()
	f()
	return false
}

func TestNewHandler_RefusesNil(t *testing.T) {
	t.Parallel()
	reg := domain.NewRegistry()
	domain.RegisterEvents(reg)
	t.Run("no store", func(t *testing.T) {
		if !panics(func() { commands.NewHandler(&commands.Handler{Registry: reg}) }) {
			t.Error("NewHandler without a store did not panic")
		}
	})
	t.Run("no registry", func(t *testing.T) {
		if !panics(func() { commands.NewHandler(&commands.Handler{Store: memory.NewStore()}) }) {
			t.Error("NewHandler without a registry did not panic")
		}
	})
	t.Run("no payments or tickets", func(t *testing.T) {
		h := commands.NewHandler(&commands.Handler{Store: memory.NewStore(), Registry: reg})
		buyer := domain.Actor{UserID: uuid.New(), Role: domain.RoleBuyer}
		if _, err := h.PayOrder(context.Background(), buyer, uuid.New(), "tok"); err == nil {
			t.Error("PayOrder without payments: no error")
		}
		if _, err := h.CheckIn(context.Background(), buyer, uuid.New()); err == nil {
			t.Error("CheckIn without tickets: no error")
		}
	})
}

func TestNewAccounts_RefusesNil(t *testing.T) {
	t.Parallel()
	u, p := &users{by: map[string]commands.User{}}, &busyHasher{}
	for name, f := range map[string]func(){
		"users":     func() { commands.NewAccounts(nil, p, time.Now, commands.NewID) },
		"passwords": func() { commands.NewAccounts(u, nil, time.Now, commands.NewID) },
		"clock":     func() { commands.NewAccounts(u, p, nil, commands.NewID) },
		"ids":       func() { commands.NewAccounts(u, p, time.Now, nil) },
	} {
		if !panics(f) {
			t.Errorf("NewAccounts without %s did not panic", name)
		}
	}
}
