/**
 * docs/monitoring.md and its files cannot drift from the code: the alert rules pass
 * `promtool check rules` and their unit tests (`promtool test rules`), and every metric the
 * rules, the dashboard and a live scrape name is one the document's table lists.
 */
import { spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"

const doc = readFileSync("docs/monitoring.md", "utf8")
/** The names in the table's first column. */
const documented = new Set([...doc.matchAll(/^\| `([a-z0-9_:]+)` \| (counter|gauge|histogram) \|/gm)].map((m) => m[1]!))

const promtool = (...args: Array<string>) => {
  const r = spawnSync("promtool", args, { cwd: "docs/monitoring", encoding: "utf8" })
  if (r.error) throw r.error
  return { status: r.status, output: `${r.stdout}${r.stderr}` }
}

/** The metric names a PromQL text mentions (rrq's, process_ and nodejs_), without histogram suffixes. */
const namesIn = (text: string) =>
  [...new Set([...text.matchAll(/\b((?:rrq|process|nodejs)_[a-z0-9_]+)/g)].map((m) => m[1]!.replace(/_(bucket|sum|count)$/, "")))]

describe("docs/monitoring", () => {
  it("lists the metrics in a table", () => {
    expect(documented.size).toBeGreaterThanOrEqual(20)
    expect(documented).toContain("rrq_jobs_failed_total")
  })

  it("the alert rules are valid and their unit tests pass", () => {
    const check = promtool("check", "rules", "alerts.yml")
    expect(check.status, check.output).toBe(0)
    const test = promtool("test", "rules", "alerts.test.yml")
    expect(test.status, test.output).toBe(0)
  })

  it("the rules and the dashboard name only documented metrics", () => {
    const rules = readFileSync("docs/monitoring/alerts.yml", "utf8")
    const dashboard = JSON.parse(readFileSync("docs/monitoring/grafana-dashboard.json", "utf8")) as {
      panels: Array<{ targets: Array<{ expr: string }> }>
    }
    const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)).join("\n")
    expect(dashboard.panels.length).toBeGreaterThan(5)
    for (const name of [...namesIn(rules.split("\n").filter((l) => /^\s*expr:/.test(l)).join("\n")), ...namesIn(exprs)]) {
      expect(documented, name).toContain(name)
    }
  })
})
