// The pages validate forms with the GraphQL inputs' classes, whose type-graphql decorators need the
// metadata polyfill loaded first; the server loads it too, but the HTTP app is also built alone (tests).
import "reflect-metadata";
import { accountPages } from "./account";
import { mailLinkPages } from "./mail-links";
import type { PageModule } from "./pages";
import { signInPages } from "./sign-in";
import { signUpPages } from "./sign-up";

/**
 * Every hosted page, in the order a newcomer meets them. The OAuth interaction (oauth-interaction.ts)
 * is rendered by this kit but routed by src/http/oauth.ts: it stays with HOSTED_PAGES=off.
 */
export const HOSTED_PAGES: readonly PageModule[] = [signInPages, signUpPages, mailLinkPages, accountPages];
