import { api } from "encore.dev/api";
import { secret } from "encore.dev/config";

// Stripe's secret API key, for charges.
const stripeKey = secret("StripeKey");

export const charge = api({ method: "POST", path: "/charge" }, async (): Promise<void> => {
  // secret("NotADeclaration") in a comment, and in a string: "secret('Nope')"
  const pattern = /secret\("AlsoNot"\)/;
  console.log(`charging with ${stripeKey().length} chars`, pattern);
});
