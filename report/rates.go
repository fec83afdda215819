package report

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"

	"github.com/clickback/clickback/ent"
	"github.com/clickback/clickback/ent/exchangerate"
	"github.com/clickback/clickback/postback"
	"github.com/clickback/clickback/viewer"
)

// Rates are exchange rates: how many units of each currency one US dollar
// buys. USD is always 1.
type Rates map[string]float64

// convert sums amounts (micro-units per currency) into currency. A
// currency without a rate (on either side) is added to missing and left
// out.
func (r Rates) convert(amounts map[string]int64, currency string, missing map[string]bool) float64 {
	var total float64
	to, ok := r.perUSD(currency)
	for c, micros := range amounts {
		v := float64(micros) / 1e6
		if c == currency {
			total += v
			continue
		}
		from, okFrom := r.perUSD(c)
		if !ok || !okFrom {
			missing[c] = true
			continue
		}
		total += v / from * to
	}
	return math.Round(total*1e6) / 1e6
}

func (r Rates) perUSD(c string) (float64, bool) {
	if c == "USD" {
		return 1, true
	}
	v, ok := r[c]
	return v, ok && v > 0
}

// LoadRates reads the operator's exchange rates.
func LoadRates(ctx context.Context, client *ent.Client) (Rates, error) {
	all, err := client.ExchangeRate.Query().All(ctx)
	if err != nil {
		return nil, fmt.Errorf("load exchange rates: %w", err)
	}
	r := Rates{}
	for _, x := range all {
		r[x.Currency] = x.PerUsd
	}
	return r, nil
}

// maxRates bounds one update: there are fewer than 200 currencies.
const maxRates = 500

// SetRates stores the operator's rates (currency → units per US dollar),
// replacing the stored rate of each currency given and keeping the others.
// Currencies are checked as ISO 4217 codes and rates must be positive and
// finite. It acts as the system: the caller checks that the viewer is the
// operator.
func SetRates(ctx context.Context, client *ent.Client, rates map[string]float64) error {
	if len(rates) > maxRates {
		return &InputError{fmt.Sprintf("at most %d rates at once", maxRates)}
	}
	codes := make([]string, 0, len(rates))
	clean := map[string]float64{}
	for c, v := range rates {
		code, ok := postback.NormalizeCurrency(strings.ToUpper(c))
		if !ok || len(code) != 3 {
			return &InputError{fmt.Sprintf("%q is not an ISO 4217 currency code", c)}
		}
		if !(v > 0) || math.IsInf(v, 0) || v > 1e12 {
			return &InputError{fmt.Sprintf("the rate of %s must be a positive number", code)}
		}
		if _, dup := clean[code]; dup {
			return &InputError{fmt.Sprintf("%s is given twice", code)}
		}
		clean[code] = v
		codes = append(codes, code)
	}
	sort.Strings(codes)
	sys := viewer.SystemContext(ctx, "")
	for _, c := range codes {
		err := client.ExchangeRate.Create().SetCurrency(c).SetPerUsd(clean[c]).
			OnConflictColumns(exchangerate.FieldCurrency).
			UpdatePerUsd().UpdateUpdatedAt().
			Exec(sys)
		if err != nil {
			return fmt.Errorf("store the rate of %s: %w", c, err)
		}
	}
	return nil
}

// RatesFileEnv names the environment variable holding the path of the
// operator's exchange rates file, loaded at every start (see LoadRatesFile).
const RatesFileEnv = "CLICKBACK_FX_RATES_FILE"

// maxRatesFile bounds the rates file.
const maxRatesFile = 1 << 20

// LoadRatesFile stores the rates of the JSON file at path — an object of
// currency codes to units per US dollar, {"EUR": 0.92, "GBP": 0.79} — as
// SetRates does. The operator names it with CLICKBACK_FX_RATES_FILE; it is
// read at every start, so a file changed on disk applies at the next one.
func LoadRatesFile(ctx context.Context, client *ent.Client, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("exchange rates file: %w", err)
	}
	defer f.Close()
	var rates map[string]float64
	dec := json.NewDecoder(&limitedReader{r: f, n: maxRatesFile})
	if err := dec.Decode(&rates); err != nil {
		return fmt.Errorf("exchange rates file %s: want a JSON object of currency codes to units per US dollar: %w", path, err)
	}
	if err := SetRates(ctx, client, rates); err != nil {
		return fmt.Errorf("exchange rates file %s: %w", path, err)
	}
	return nil
}

type limitedReader struct {
	r interface{ Read([]byte) (int, error) }
	n int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, fmt.Errorf("larger than %d bytes", maxRatesFile)
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}
