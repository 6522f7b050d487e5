package ingress

import (
	"context"
	"errors"

	"github.com/incidentd/incidentd/readmodel"
)

// Views is what the dashboard API reads through: the read model's queries
// over ClickHouse (readmodel.Queries satisfies it). Every method
// takes the tenant; an incident of another tenant is ErrNotFound, the same
// as an unknown one.
type Views interface {
	List(ctx context.Context, tenant string, q readmodel.ListQuery) (readmodel.ListPage, error)
	Get(ctx context.Context, tenant, id string) (readmodel.Timeline, error)
	// Version is the latest version of the incident the view holds.
	Version(ctx context.Context, tenant, id string) (uint64, error)
	Analytics(ctx context.Context, tenant string, q readmodel.AnalyticsQuery) (readmodel.Analytics, error)
}

// ErrNotFound is what a Views implementation returns (or wraps) for an
// unknown incident. Any other error means the views are unavailable and is
// answered 503.
var ErrNotFound = errors.New("ingress: not found")

// notFoundFunc recognises the views' own not-found error (WithNotFound),
// e.g. readmodel.ErrNotFound.
type notFoundFunc func(error) bool
