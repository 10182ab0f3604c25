// The auto-insurance campaign fields of SPEC.md's example: the demo, the load lab and the tests all
// sell leads of this shape.
export const autoInsuranceFields = [
  { name: "zip", type: "zip", required: true },
  { name: "state", type: "state", required: true },
  { name: "age", type: "integer", min: 18, max: 120 },
  { name: "coverage", type: "enum", values: ["auto", "home"] },
  { name: "email", type: "email", required: true, pii: true },
  { name: "phone", type: "phone", required: true, pii: true },
];
