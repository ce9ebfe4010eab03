import { randomUUID } from "node:crypto";
import { EventEmitter, on } from "node:events";
import { Arg, Authorized, Ctx, Field, ID, Int, Mutation, ObjectType, Query, Resolver, Root, Subscription } from "type-graphql";
import type { NotesContext } from "./context";

@ObjectType({ description: "A note: this service's own data, one list per user of the auth API." })
export class Note {
  @Field(() => ID)
  id!: string;

  @Field()
  text!: string;
}

/** The service's own store; in memory, as befits an example. */
export class Notes {
  private readonly byUser = new Map<string, Note[]>();
  private readonly added = new EventEmitter().setMaxListeners(0);

  of(userId: string): Note[] {
    return this.byUser.get(userId) ?? [];
  }

  add(userId: string, text: string): Note {
    const note = Object.assign(new Note(), { id: randomUUID(), text: text.slice(0, 1000) });
    this.byUser.set(userId, [...this.of(userId), note]);
    this.added.emit(userId, note);
    return note;
  }

  /** The user's notes as they are added; ends when the subscription does. */
  async *watch(userId: string): AsyncGenerator<Note> {
    for await (const [note] of on(this.added, userId)) yield note as Note;
  }

  count(): number {
    return [...this.byUser.values()].reduce((sum, notes) => sum + notes.length, 0);
  }
}

@Resolver(() => Note)
export class NoteResolver {
  @Authorized()
  @Query(() => [Note], { description: "The caller's notes." })
  myNotes(@Ctx() { identity, notes }: NotesContext): Note[] {
    return notes.of(identity!.userId);
  }

  @Authorized()
  @Mutation(() => Note)
  addNote(@Ctx() { identity, notes }: NotesContext, @Arg("text") text: string): Note {
    return notes.add(identity!.userId, text);
  }

  @Authorized()
  @Subscription(() => Note, {
    description: "The caller's notes as they are added, over WebSocket; the socket closes when the caller's session ends at the auth API.",
    subscribe: ({ context }) => (context as NotesContext).notes.watch((context as NotesContext).identity!.userId),
  })
  noteAdded(@Root() note: Note): Note {
    return note;
  }

  @Authorized("ADMIN")
  @Query(() => Int, { description: "How many notes all users hold; ADMIN only." })
  noteCount(@Ctx() { notes }: NotesContext): number {
    return notes.count();
  }
}
