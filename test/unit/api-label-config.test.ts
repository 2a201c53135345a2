import { describe, expect, it } from 'vitest';
import { parseDataKeys } from '../../shared/api/label-config';

describe('label config data keys', () => {
  it('lists $variables of object tags in document order without duplicates', () => {
    expect(parseDataKeys('<View><Image name="i" value="$image"/><Text name="t" value="$text"/><Image name="j" value="$image"/></View>')).toEqual(['image', 'text']);
  });

  it('accepts single quotes, valueList and spaces, ignores display tags and literal values', () => {
    const cfg = `<View>
      <Header value="$title"/>
      <Choices name="c" toName="i"><Choice value="A"/><Choice value="$notdata"/></Choices>
      <Paragraphs name="p" value = ' $dialogue ' />
      <MultiImage name="m" valueList="$images"/>
      <Audio name="a" value="literal"/>
    </View>`;
    expect(parseDataKeys(cfg)).toEqual(['dialogue', 'images']);
  });

  it('returns [] for empty or non-XML configs', () => {
    expect(parseDataKeys('')).toEqual([]);
    expect(parseDataKeys(undefined)).toEqual([]);
    expect(parseDataKeys('<View></View>')).toEqual([]);
  });
});
