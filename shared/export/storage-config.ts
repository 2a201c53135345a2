/**
 * A stored storage item as the config its provider needs: the non-secret fields with the
 * decrypted secrets merged in. Secrets never leave this function except inside the config.
 */
import type { AppContext } from '../context';
import type { StorageItem } from '../db/items';
import type { StorageConfig } from '../storage/types';

export async function loadExportStorageConfig(ctx: Pick<AppContext, 'secretBox'>, item: StorageItem): Promise<StorageConfig> {
  const secrets = item.secrets ? (JSON.parse(await ctx.secretBox.decrypt(item.secrets)) as Record<string, unknown>) : {};
  return { ...item.fields, ...secrets, type: item.type, role: item.role } as StorageConfig;
}
