export { isLiveSession, type AccessState } from "./access-state";
export { keys } from "./keys";
export { isRevoked, type RevocationKind, type RevocationListener } from "./revocation";
