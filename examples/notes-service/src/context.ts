import type { AuthContext } from "@revocable-auth/verifier";
import type { Notes } from "./notes";

export interface NotesContext extends AuthContext {
  readonly notes: Notes;
}
